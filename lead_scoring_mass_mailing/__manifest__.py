{
    "name": "Lead Scoring: Email Marketing",
    "summary": "Email opens, clicks, replies, bounces and unsubscribes drive behaviour points",
    "version": "18.0.1.2.1",
    "category": "Sales/CRM",
    "author": "lead_scoring contributors",
    "maintainers": ["lead_scoring"],
    "website": "https://github.com/lead-scoring/lead_scoring",
    "license": "LGPL-3",
    "depends": ["lead_scoring", "mass_mailing"],
    "data": [
        "security/ir.model.access.csv",
        "data/ir_cron_data.xml",
        "views/lead_scoring_automation_views.xml",
        "views/lead_scoring_threshold_views.xml",
    ],
    "demo": [
        "demo/lead_scoring_mass_mailing_demo.xml",
        "demo/lead_scoring_threshold_demo.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "lead_scoring_mass_mailing/static/tests/tours/*.js",
        ],
    },
    "auto_install": True,
}
