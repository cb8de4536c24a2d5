{
    "name": "Lead Scoring",
    "summary": "Contact and deal scores from rules and automations, "
    "with expiring points, a ledger, thresholds and bands",
    "version": "18.0.1.5.0",
    "category": "Sales/CRM",
    "author": "lead_scoring contributors",
    "maintainers": ["lead_scoring"],
    "website": "https://github.com/lead-scoring/lead_scoring",
    "license": "LGPL-3",
    "depends": ["crm", "base_automation"],
    "external_dependencies": {"python": []},
    "data": [
        "security/lead_scoring_security.xml",
        "security/ir.model.access.csv",
        "data/ir_cron_data.xml",
        "views/lead_scoring_point_views.xml",
        "views/lead_scoring_score_views.xml",
        "views/lead_scoring_rule_views.xml",
        "views/lead_scoring_threshold_views.xml",
        "views/lead_scoring_band_views.xml",
        "views/lead_scoring_automation_views.xml",
        "views/lead_scoring_model_views.xml",
        "views/ir_actions_server_views.xml",
        "views/res_partner_views.xml",
        "views/crm_lead_views.xml",
        "views/res_config_settings_views.xml",
        "report/lead_scoring_conversion_report_views.xml",
        "wizard/lead_scoring_point_manual_views.xml",
        "wizard/lead_scoring_lab_views.xml",
        "views/lead_scoring_menus.xml",
    ],
    "demo": [
        "demo/lead_scoring_demo.xml",
        "demo/lead_scoring_segment_demo.xml",
        "demo/lead_scoring_threshold_demo.xml",
        "demo/lead_scoring_signals_demo.xml",
    ],
    "assets": {
        # Odoo loads its graph view (which the lift chart extends) on demand.
        "web.assets_backend_lazy": [
            "lead_scoring/static/src/views/*.js",
        ],
        "web.assets_tests": [
            "lead_scoring/static/tests/tours/*.js",
        ],
    },
}
