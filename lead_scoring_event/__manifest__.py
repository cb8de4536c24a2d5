{
    "name": "Lead Scoring: Events",
    "summary": "Event registrations and attendance drive behaviour points",
    "version": "18.0.1.0.1",
    "category": "Sales/CRM",
    "author": "lead_scoring contributors",
    "maintainers": ["lead_scoring"],
    "website": "https://github.com/lead-scoring/lead_scoring",
    "license": "LGPL-3",
    "depends": ["lead_scoring", "event"],
    "data": [
        "views/lead_scoring_automation_views.xml",
    ],
    "demo": [
        "demo/lead_scoring_event_demo.xml",
    ],
    "auto_install": True,
}
