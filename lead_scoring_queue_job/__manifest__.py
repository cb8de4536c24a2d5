{
    "name": "Lead Scoring: Recompute with Queue Jobs",
    "summary": "Spread the scheduled recompute and Recompute now over Odoo workers "
    "as OCA queue jobs: one job per rule and range of 100,000 records",
    "version": "18.0.1.0.2",
    "category": "Sales/CRM",
    "author": "lead_scoring contributors",
    "maintainers": ["lead_scoring"],
    "website": "https://github.com/lead-scoring/lead_scoring",
    "license": "LGPL-3",
    "depends": ["lead_scoring", "queue_job"],
    "data": [
        "data/queue_job_channel_data.xml",
        "data/ir_config_parameter_data.xml",
        "views/res_config_settings_views.xml",
    ],
    "auto_install": True,
}
