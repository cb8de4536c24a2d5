{
    "name": "Lead Scoring: Website Visits and Forms",
    "summary": 'Behaviour points for page visits ("Page visited", at least N pages '
    "within D days) and the website contact form, anonymous history included",
    "version": "18.0.1.1.1",
    "category": "Sales/CRM",
    "author": "lead_scoring contributors",
    "maintainers": ["lead_scoring"],
    "website": "https://github.com/lead-scoring/lead_scoring",
    "license": "LGPL-3",
    "depends": ["lead_scoring", "website_crm"],
    "data": [
        "security/ir.model.access.csv",
        "data/ir_cron_data.xml",
        "views/lead_scoring_automation_views.xml",
        "views/lead_scoring_model_views.xml",
    ],
    "demo": ["demo/lead_scoring_website_demo.xml"],
    "auto_install": True,
}
