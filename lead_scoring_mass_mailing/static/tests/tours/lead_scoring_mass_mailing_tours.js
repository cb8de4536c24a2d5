/** @odoo-module **/

import { registry } from "@web/core/registry";

/**
 * A marketer adds "+5 per email opened, expiring after 2 months" to a scoring
 * model's Automations tab. Starts on the scoring model's form.
 */
registry.category("web_tour.tours").add("lead_scoring_mass_mailing_open_tour", {
    steps: () => [
        {
            content: "Open the Automations tab",
            trigger: ".o_notebook .nav-link:contains(Automations)",
            run: "click",
        },
        {
            content: "Add a line",
            trigger: ".o_field_widget[name=automation_ids] .o_field_x2many_list_row_add a",
            run: "click",
        },
        {
            content: "Trigger: Email opened",
            trigger: ".modal .o_field_widget[name=trigger] select",
            run: "selectByLabel Email opened",
        },
        {
            content: "The line runs on mailing traces, set by itself",
            trigger: ".modal .o_field_widget[name=trigger_model_id]:contains(Mailing Statistics)",
        },
        {
            content: "The mailings it listens to can be limited",
            trigger: ".modal .o_field_widget[name=mailing_ids]",
        },
        {
            content: "Name it",
            trigger: ".modal .o_field_widget[name=name] input",
            run: "edit Betrokkenheid +5 per geopende e-mail",
        },
        {
            content: "Give it points",
            trigger: ".modal .o_field_widget[name=points] input",
            run: "edit 5",
        },
        {
            content: "Points expire after 2 ...",
            trigger: ".modal .o_field_widget[name=expire_after] input",
            run: "edit 2 && press Tab",
        },
        {
            content: "... months (the default unit)",
            trigger: ".modal .o_field_widget[name=expire_unit]:contains(Months)",
        },
        {
            content: "Save the line",
            trigger: ".modal .o_form_button_save",
            run: "click",
        },
        {
            content: "The line is listed",
            trigger:
                ".o_field_widget[name=automation_ids] .o_data_row:contains(Betrokkenheid +5 per geopende e-mail)",
        },
        {
            content: "Save the scoring model",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "Saved",
            trigger: ".o_form_saved",
        },
    ],
});
