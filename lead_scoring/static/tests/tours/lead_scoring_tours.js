/** @odoo-module **/

import { registry } from "@web/core/registry";

/**
 * A marketer creates a scoring model with a rule through the UI and runs
 * "Recompute now". Starts on the scoring models list.
 */
registry.category("web_tour.tours").add("lead_scoring_marketer_tour", {
    steps: () => [
        {
            content: "Create a scoring model",
            trigger: ".o_list_button_add",
            run: "click",
        },
        {
            content: "Name it",
            trigger: ".o_field_widget[name=name] input",
            run: "edit Tour Profiel",
        },
        {
            content: "Add a rule",
            trigger: ".o_field_widget[name=rule_ids] .o_field_x2many_list_row_add a",
            run: "click",
        },
        {
            content: "Name the rule",
            trigger: ".modal .o_field_widget[name=name] input",
            run: "edit Land is Nederland",
        },
        {
            content: "Give it points",
            trigger: ".modal .o_field_widget[name=points] input",
            run: "edit 20",
        },
        {
            content: "Write its filter in the code editor",
            trigger: ".modal .o_field_widget[name=domain] textarea",
            run: "edit [('country_id.code', '=', 'NL')]",
        },
        {
            content: "Save the rule",
            trigger: ".modal .o_form_button_save",
            run: "click",
        },
        {
            content: "The rule is listed",
            trigger: ".o_field_widget[name=rule_ids] .o_data_row:contains(Land is Nederland)",
        },
        {
            content: "Save the model",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "The rule shows how many contacts match",
            trigger: ".o_form_saved .o_data_row:contains(Land is Nederland) td[name=match_count]:contains(1)",
        },
        {
            content: "Recompute now",
            trigger: ".o_form_saved button[name=action_recompute]",
            run: "click",
        },
        {
            content: "The model counts the scored contacts",
            trigger: "button[name=action_open_scores] .o_stat_value:contains(1)",
        },
    ],
});

/**
 * Anyone with scoring rights opens a contact and reads its score and history.
 * Starts on the contact's form.
 */
registry.category("web_tour.tours").add("lead_scoring_partner_tour", {
    steps: () => [
        {
            content: "The Score History button counts the live lines it opens",
            trigger: "button[name=action_open_lead_scoring_points] .o_stat_value:contains(1)",
        },
        {
            content: "Open the Scores tab",
            trigger: ".o_notebook .nav-link:contains(Scores)",
            run: "click",
        },
        {
            content: "One line per scoring model, with its score",
            trigger: ".o_field_widget[name=lead_score_ids] .o_data_row:contains(Tour Profiel) td[name=score]:contains(20)",
        },
        {
            content: "Open the score",
            trigger: ".o_field_widget[name=lead_score_ids] .o_data_row:contains(Tour Profiel) td[name=model_id]",
            run: "click",
        },
        {
            content: "Its form says why: the ledger lines, no technical fields",
            trigger: ".modal .o_field_widget[name=point_ids] .o_data_row:contains(Rule: Land is Nederland)",
        },
        {
            content: "No win probability before the lab was applied",
            trigger: ".modal .o_form_view:not(:has(.o_field_widget[name=win_probability])):not(:has(.o_field_widget[name=band_color]))",
        },
        {
            content: "Close it",
            trigger: ".modal .btn-close",
            run: "click",
        },
        {
            content: "Open the score history",
            trigger: "button[name=action_open_lead_scoring_points]",
            run: "click",
        },
        {
            content: "The ledger explains the points",
            trigger: ".o_list_renderer .o_data_row:contains(Rule: Land is Nederland)",
        },
    ],
});

/**
 * A sales rep opens an opportunity: deal score and contact score are shown,
 * the score history opens read-only. Starts on the opportunity's form.
 */
registry.category("web_tour.tours").add("lead_scoring_salesman_tour", {
    steps: () => [
        {
            content: "The deal score is on the form",
            trigger: ".o_field_widget[name=deal_score]:contains(15)",
        },
        {
            content: "The customer's contact score is on the form",
            trigger: ".o_field_widget[name=partner_contact_score]:contains(20)",
        },
        {
            content: "Open the deal's score history",
            trigger: "button[name=action_open_lead_scoring_points]",
            run: "click",
        },
        {
            content: "The ledger line is there",
            trigger: ".o_list_renderer .o_data_row:contains(Rule: Grote deal)",
        },
        {
            content: "and it cannot be created by a sales rep",
            trigger: ".o_list_view:not(:has(.o_list_button_add))",
        },
    ],
});

/**
 * A sales rep marks the call on his opportunity done in the chatter (the
 * activity's "Mark Done", then "Done"), as he does every day. Starts on the
 * opportunity's form; the points are checked by the test.
 */
registry.category("web_tour.tours").add("lead_scoring_activity_done_tour", {
    steps: () => [
        {
            content: "The call is planned in the chatter",
            trigger: ".o-mail-Activity:contains(Klant terugbellen)",
        },
        {
            content: "Mark it done",
            trigger: ".o-mail-Activity:contains(Klant terugbellen) .o-mail-Activity-markDone",
            run: "click",
        },
        {
            content: "Write the outcome",
            trigger: ".o-mail-ActivityMarkAsDone textarea",
            run: "edit Offerte besproken",
        },
        {
            content: "Done",
            trigger: ".o-mail-ActivityMarkAsDone button[aria-label=Done]",
            run: "click",
        },
        {
            content: "The call is in the chatter's history, no longer planned",
            trigger: ".o-mail-Message:contains(Offerte besproken)",
        },
        {
            trigger: ".o-mail-Chatter:not(:has(.o-mail-Activity))",
        },
    ],
});
