{
    "name": "Lead Scoring Tests: a Third Scored Model",
    "summary": "Test-only addon: scores support tickets, a model lead_scoring does not know",
    "version": "18.0.1.0.0",
    "category": "Hidden/Tests",
    "author": "lead_scoring contributors",
    "website": "https://github.com/lead-scoring/lead_scoring",
    "license": "LGPL-3",
    "depends": ["lead_scoring"],
    "data": ["security/ir.model.access.csv"],
}
