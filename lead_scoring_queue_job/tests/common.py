from contextlib import closing

from odoo.tools import SQL

from odoo.addons.lead_scoring.engine import Recompute, registered_targets
from odoo.addons.lead_scoring.tests.common import LeadScoringCase
from odoo.addons.queue_job.delay import Graph

from ..recompute_graph import RANGE_SIZE_PARAM


class QueueJobCase(LeadScoringCase):
    """Contacts scored by Profiel (three rules, a threshold that creates a
    deal), deals by Dealkwaliteit (two rules), and a range size that cuts
    the contacts into at least three id ranges."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param("lead_scoring_queue_job.use_jobs", "True")
        Partner = cls.env["res.partner"]
        cls.dirk = Partner.create(
            {"name": "Dirk", "email": "dirk@example.nl", "country_id": cls.nl.id}
        )
        cls.eva = Partner.create({"name": "Eva", "country_id": cls.nl.id})
        cls.team = cls.env["crm.team"].create({"name": "Inside Sales"})
        cls.profiel = cls.create_model(
            "Profiel",
            rules=[
                ("Land is Nederland", "[('country_id.code', '=', 'NL')]", 10.0),
                ("Land is België", "[('country_id.code', '=', 'BE')]", 20.0),
                (
                    "Heeft e-mail",
                    "[('email', '!=', False)]",
                    5.0,
                    {"expire_after": 1, "expire_unit": "months"},
                ),
            ],
        )
        cls.threshold = cls.env["lead.scoring.threshold"].create(
            {
                "model_id": cls.profiel.id,
                "name": "Sales ready",
                "score": 15,
                "action": "create_deal",
                "team_id": cls.team.id,
            }
        )
        cls.deal_model = cls.create_model(
            "Dealkwaliteit",
            target="deal",
            rules=[
                ("Klant in Nederland", "[('partner_id.country_id.code', '=', 'NL')]", 7.0),
                # Not "[]": a rule without condition is evaluated on every record each run.
                ("Elke deal", "[('expected_revenue', '>=', 0)]", 1.0),
            ],
        )
        cls.env.flush_all()
        cls.env.cr.execute(SQL("SELECT count(*) FROM res_partner"))
        cls.range_size = max(cls.env.cr.fetchone()[0] // 3, 1)
        cls.env["ir.config_parameter"].sudo().set_param(RANGE_SIZE_PARAM, cls.range_size)
        cls.scoring_models = cls.profiel | cls.deal_model

    # ------------------------------------------------------------------
    # Runs
    # ------------------------------------------------------------------

    def plain_result(self, full=False):
        """What the engine alone makes of the data as they are, rolled back after."""
        self.write_changes()
        with closing(self.env.cr.savepoint()):
            Recompute(self.all_models(), full=full).run()
            result = self.snapshot()
        self.env.invalidate_all()
        return result

    def all_models(self):
        return self.ScoringModel.sudo().with_context(active_test=False).search([])

    def write_changes(self):
        """Write the change queue the way a commit would, so that a run rolled
        back and the next one see the same changes."""
        for target in registered_targets(self.env):
            self.env["lead.scoring.change"]._write_recorded(target)

    def perform(self, trap, fail_once=()):
        """Perform the trapped jobs in the order of their graph. A job that
        raises ``fail_once`` is rolled back, as the job runner does, and run
        again. Returns the jobs performed, in order."""
        performed = []
        while trap.enqueued_jobs:
            jobs, trap.enqueued_jobs = trap.enqueued_jobs, []
            graph = Graph()
            for job in jobs:
                graph.add_vertex(job)
                for parent in job.depends_on:
                    graph.add_edge(parent, job)
            for job in graph.topological_sort():
                try:
                    with self.env.cr.savepoint():
                        job.perform()
                except fail_once:
                    job.perform()
                performed.append(job)
        return performed

    # ------------------------------------------------------------------
    # What a run leaves
    # ------------------------------------------------------------------

    def snapshot(self):
        """The ledger, scores, crossings, deals and rule marks, with deals named
        by their customer (a deal created by a threshold gets a new id each run)."""
        self.write_changes()
        self.env.flush_all()
        cr = self.env.cr
        queries = {
            "lines": """
                SELECT m.name->>'en_US', r.name->>'en_US', COALESCE(p.partner_id, l.partner_id),
                       p.lead_id IS NOT NULL, p.points, p.date, p.expire_date, p.closed_date,
                       p.is_live, p.source, p.reason
                  FROM lead_scoring_point p
                  JOIN lead_scoring_model m ON m.id = p.model_id
                  LEFT JOIN lead_scoring_rule r ON r.id = p.rule_id
                  LEFT JOIN crm_lead l ON l.id = p.lead_id
                 ORDER BY 1, 2, 3, 4, 6, 8
            """,
            "scores": """
                SELECT m.name->>'en_US', COALESCE(s.partner_id, l.partner_id),
                       s.lead_id IS NOT NULL, s.score, s.band_id, s.date_last_change
                  FROM lead_scoring_score s
                  JOIN lead_scoring_model m ON m.id = s.model_id
                  LEFT JOIN crm_lead l ON l.id = s.lead_id
                 ORDER BY 1, 2, 3
            """,
            "crossings": """
                SELECT threshold_id, res_id, date, score FROM lead_scoring_threshold_crossing
                 ORDER BY 1, 2
            """,
            "deals": """
                SELECT partner_id, lead_scoring_threshold_id, deal_score FROM crm_lead
                 ORDER BY 1, 2
            """,
            "contact_scores": """
                SELECT id, contact_score FROM res_partner WHERE contact_score != 0 ORDER BY id
            """,
            "rules": """
                SELECT id, evaluated_domain, date_full_evaluation FROM lead_scoring_rule
                 ORDER BY id
            """,
            "queues": """
                SELECT (SELECT count(*) FROM lead_scoring_change),
                       (SELECT count(*) FROM lead_scoring_refresh),
                       (SELECT count(*) FROM lead_scoring_model WHERE scores_dirty)
            """,
        }
        result = {}
        for name, query in queries.items():
            cr.execute(SQL(query))
            result[name] = cr.fetchall()
        return result
