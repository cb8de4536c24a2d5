from contextlib import closing
from datetime import datetime, timedelta
from unittest.mock import patch

from freezegun import freeze_time

from odoo import SUPERUSER_ID, api, sql_db
from odoo.tests import HttpCase, TransactionCase, tagged

from ..models import lead_scoring_automation as automation_module
from .common import MailingScoringCommon

NOW = datetime(2025, 3, 4, 10, 0, 0)
INLINE = "lead_scoring.score_hits_inline"
# A line's fields compared between the two ways of scoring.
COMPARED = ("date", "reason", "points", "expire_date", "action_id", "source", "is_live")


@tagged("post_install", "-at_install")
class TestHitBatch(MailingScoringCommon, HttpCase):
    """The pixel and the tracked links only record the hit; the batch scores
    it exactly as scoring in the request did (same lines, dates, cooldown and
    cap decisions)."""

    def hit(self, path, status):
        self.env.flush_all()
        response = self.url_open(path, allow_redirects=False)
        self.assertEqual(response.status_code, status)
        self.env.invalidate_all()

    def urls_of(self, mailing, records):
        """``{record: {"open": pixel path, anchor: link path}}`` of the mails
        of the last sending."""
        urls = {}
        for record in records:
            mail = self._find_mail_mail_wrecord(record)
            urls[record] = {
                "open": self.path_of(mail._get_tracking_url()),
                "shop": self.link_path(mailing, record, "shop"),
                "prices": self.link_path(mailing, record, "prices"),
            }
        return urls

    def ledger(self, record):
        lines = self.lines_of(self.engagement, record, score=False)
        # In date order (the batch inserts the opens before the clicks).
        return sorted(tuple(line[name] for name in COMPARED) for line in lines)

    def test_hit_request_writes_no_line_and_the_batch_dates_it_at_the_hit(self):
        self.add_line("mailing_open", 5, expire_after=2, expire_unit="months")
        self.send(self.mailing)
        urls = self.urls_of(self.mailing, self.anna)
        with freeze_time(NOW):
            self.hit(urls[self.anna]["open"], 200)
        self.assertFalse(self.lines_of(self.engagement, self.anna, score=False))
        # The open is marked on the trace, next to Odoo's own open date.
        trace = self.trace_of(self.mailing, self.anna)
        self.assertRecordValues(trace, [{"lead_scoring_open_pending": True, "open_datetime": NOW}])
        # Scored within the minute (the scheduled action), dated at the hit.
        cron = self.env.ref("lead_scoring_mass_mailing.ir_cron_score_hits")
        self.assertEqual((cron.interval_number, cron.interval_type), (1, "minutes"))
        with freeze_time(NOW + timedelta(seconds=50)):
            self.env.flush_all()
            self.env["lead.scoring.mailing.hit"]._cron_score_hits()
        self.env.invalidate_all()
        self.assertFalse(trace.lead_scoring_open_pending)
        self.assertRecordValues(
            self.lines_of(self.engagement, self.anna, score=False),
            [{"points": 5.0, "date": NOW, "expire_date": datetime(2025, 5, 4, 10, 0, 0)}],
        )
        self.assertEqual(self.anna.contact_score, 5.0)

    def test_a_scoring_run_scores_the_waiting_hits_first(self):
        self.add_line("mailing_open", 5)
        self.send(self.mailing)
        self.hit(self.urls_of(self.mailing, self.anna)[self.anna]["open"], 200)
        self.env.flush_all()
        self.env["lead.scoring.model"]._recompute_scores()
        self.env.invalidate_all()
        self.assertFalse(self.trace_of(self.mailing, self.anna).lead_scoring_open_pending)
        self.assertEqual(len(self.lines_of(self.engagement, self.anna, score=False)), 1)
        self.assertEqual(self.anna.contact_score, 5.0)

    def test_batch_gives_the_lines_of_scoring_at_once(self):
        """Anna's hits scored in the request, Bram's the same hits at the same
        times recorded and scored by one batch afterwards: the same ledger."""
        self.add_line("mailing_open", 5, cooldown_hours=24, expire_after=2, expire_unit="months")
        self.add_line("mailing_click", 3, max_points=5)
        cyber = self.create_mailing("Cyber Monday", "res.partner", self.anna + self.bram)
        easter = self.create_mailing("Pasen", "res.partner", self.anna + self.bram)
        urls = {}
        for mailing in (self.mailing, cyber, easter):
            self.send(mailing)
            urls[mailing] = self.urls_of(mailing, self.anna + self.bram)
        Param = self.env["ir.config_parameter"].sudo()
        sequence = [
            (0, self.mailing, "open", 200),  # 5
            (2, cyber, "open", 200),  # within the open's cooldown: refused
            (3, self.mailing, "shop", 301),  # 3; the mailing was opened already
            (4, self.mailing, "prices", 301),  # 2: the cap of 5
            (5, self.mailing, "shop", 301),  # this link again: no event
            (6, cyber, "shop", 301),  # at the cap: refused
            (30, easter, "open", 200),  # 30 h after the last open line: 5
        ]
        for hours, mailing, what, status in sequence:
            with freeze_time(NOW + timedelta(hours=hours)):
                Param.set_param(INLINE, "1")
                self.hit(urls[mailing][self.anna][what], status)
                Param.set_param(INLINE, "0")
                self.hit(urls[mailing][self.bram][what], status)
        self.assertEqual(len(self.ledger(self.anna)), 4, "scored in each request")
        self.assertFalse(self.ledger(self.bram), "only recorded")

        with freeze_time(NOW + timedelta(hours=30, seconds=40)):
            self.score_hits()
        inline, batch = self.ledger(self.anna), self.ledger(self.bram)
        self.assertEqual(batch, inline)
        self.assertEqual(
            [(line[1], line[2], line[0]) for line in batch],
            [
                ("Email opened: Black Friday", 5.0, NOW),
                (
                    "Link clicked: Black Friday → https://www.example.com/shop",
                    3.0,
                    NOW + timedelta(hours=3),
                ),
                (
                    "Link clicked: Black Friday → https://www.example.com/prijzen",
                    2.0,
                    NOW + timedelta(hours=4),
                ),
                ("Email opened: Pasen", 5.0, NOW + timedelta(hours=30)),
            ],
        )
        self.assertEqual(self.anna.contact_score, 15.0)
        self.assertEqual(self.bram.contact_score, 15.0)
        # The same events counted (a refused one too: the cap's click).
        events = self.env["lead.scoring.mailing.event"].search([], order="date, id")
        by_target = {
            target: [
                (e.trigger, e.mailing_id, e.link_id, e.date)
                for e in events
                if e.target_id == target.id
            ]
            for target in (self.anna, self.bram)
        }
        self.assertEqual(len(by_target[self.anna]), 6)
        self.assertEqual(by_target[self.bram], by_target[self.anna])
        self.assertEqual(
            self.pending(), (self.env["mailing.trace"], self.env["lead.scoring.mailing.hit"])
        )

    def pending(self):
        """The opens and clicks waiting for the batch."""
        Trace = self.env["mailing.trace"]
        opens = Trace.search([("lead_scoring_open_pending", "=", True)])
        return opens, self.env["lead.scoring.mailing.hit"].search([])

    def test_recipient_without_contact_is_skipped_and_logged(self):
        newsletter = self.env["mailing.list"].create(
            {
                "name": "Nieuwsbrief",
                "contact_ids": [(0, 0, {"name": "Onbekend", "email": "nobody@example.org"})],
            }
        )
        line = self.add_line("mailing_open", 5)
        mailing = self.create_mailing("Nieuwsbrief maart", "mailing.list", lists=newsletter)
        self.send(mailing)
        urls = self.urls_of(mailing, newsletter.contact_ids)
        self.hit(urls[newsletter.contact_ids]["open"], 200)
        trace = self.trace_of(mailing, newsletter.contact_ids)
        self.assertEqual(trace.trace_status, "open")
        self.assertEqual(self.pending()[0], trace)
        with patch.object(automation_module._logger, "info") as log:
            self.score_hits()
        self.assertFalse(
            self.env["lead.scoring.point"].search([("model_id", "=", self.engagement.id)])
        )
        logged = [call.args[0] % call.args[1:] for call in log.call_args_list]
        self.assertIn(
            f"Lead scoring: line {line.id} skipped mailing_open of mailing.trace({trace.id},), "
            "no res.partner to score",
            logged,
        )
        self.assertFalse(self.pending()[0], "handled")

    def test_failed_batch_leaves_its_hits_to_the_next(self):
        self.add_line("mailing_open", 5)
        self.send(self.mailing)
        urls = self.urls_of(self.mailing, self.anna + self.bram)
        with freeze_time(NOW):
            self.hit(urls[self.anna]["open"], 200)
            self.hit(urls[self.bram]["open"], 200)
        Hits = self.env["lead.scoring.mailing.hit"]
        Action = self.registry["ir.actions.server"]
        with (
            patch.object(Action, "_lead_scoring_award", side_effect=RuntimeError("crash")),
            self.assertRaises(RuntimeError),
            self.env.cr.savepoint(),
        ):
            Hits._score_hits()
        self.env.invalidate_all()
        self.assertEqual(len(self.pending()[0]), 2)
        self.assertFalse(self.env["lead.scoring.mailing.event"].search([]))
        self.score_hits()
        self.assertEqual(self.lines_of(self.engagement, self.anna).date, NOW)
        self.assertEqual(self.lines_of(self.engagement, self.bram).date, NOW)
        self.score_hits()
        self.assertEqual(len(self.lines_of(self.engagement, self.anna)), 1, "scored once")


@tagged("post_install", "-at_install")
class TestHitConcurrency(TransactionCase):
    """Two processors at once, on committed hits (their own connections):
    each hit is scored once."""

    RECIPIENTS = 40

    def cursor(self):
        cr = sql_db.db_connect(self.env.cr.dbname).cursor()
        # Never wait forever on the other processor's locks.
        cr.execute("SET statement_timeout = 20000")
        return closing(cr)

    def setup_committed(self):
        with self.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            model = env["lead.scoring.model"].create({"name": "Gelijktijdig", "target": "contact"})
            env["lead.scoring.automation"].create(
                {
                    "model_id": model.id,
                    "name": "E-mail geopend",
                    "trigger": "mailing_open",
                    "points": 5,
                }
            )
            partners = env["res.partner"].create(
                [
                    {"name": f"Ontvanger {i}", "email": f"ontvanger{i}@example.nl"}
                    for i in range(self.RECIPIENTS)
                ]
            )
            mailing = env["mailing.mailing"].create(
                {
                    "subject": "Gelijktijdig",
                    "body_html": "<p>Hallo</p>",
                    "mailing_model_id": env["ir.model"]._get_id("res.partner"),
                    "mailing_domain": repr([("id", "in", partners.ids)]),
                    "state": "done",
                }
            )
            traces = env["mailing.trace"].create(
                [
                    {
                        "mass_mailing_id": mailing.id,
                        "model": "res.partner",
                        "res_id": partner.id,
                        "email": partner.email_normalized,
                        "trace_status": "sent",
                    }
                    for partner in partners
                ]
            )
            traces.set_opened()
            env.flush_all()
            cr.commit()  # pylint: disable=invalid-commit
            ids = model.id, mailing.id, partners.ids
        self.addCleanup(self.cleanup, *ids)
        return ids

    def cleanup(self, model_id, mailing_id, partner_ids):
        with self.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            cr.execute("DELETE FROM lead_scoring_point WHERE model_id = %s", [model_id])
            cr.execute("DELETE FROM lead_scoring_score WHERE model_id = %s", [model_id])
            env["mailing.mailing"].browse(mailing_id).unlink()
            model = env["lead.scoring.model"].with_context(active_test=False).browse(model_id)
            model.automation_ids.unlink()
            model.unlink()
            env["res.partner"].browse(partner_ids).unlink()
            cr.commit()  # pylint: disable=invalid-commit
        self.env.registry.clear_cache()

    def test_two_processors_score_each_hit_once(self):
        model_id, __, partner_ids = self.setup_committed()
        half = self.RECIPIENTS // 2
        with self.cursor() as cr_a, self.cursor() as cr_b:
            hits_a = api.Environment(cr_a, SUPERUSER_ID, {})["lead.scoring.mailing.hit"]
            hits_b = api.Environment(cr_b, SUPERUSER_ID, {})["lead.scoring.mailing.hit"]
            # A scores a batch, not committed yet; B, at the same moment, leaves
            # the hits to A (one processor at a time), without waiting.
            self.assertEqual(hits_a._score_hits(limit=half), half)
            self.assertEqual(hits_b._score_hits(), 0)
            cr_b.rollback()
            hits_a.env.flush_all()
            cr_a.commit()  # pylint: disable=invalid-commit
            # Then B takes what is left, and only that.
            self.assertEqual(hits_b._score_hits(), self.RECIPIENTS - half)
            hits_b.env.flush_all()
            cr_b.commit()  # pylint: disable=invalid-commit
        with self.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            self.assertEqual(env["lead.scoring.mailing.hit"]._score_hits(), 0, "none left")
            cr.execute(
                """SELECT partner_id, count(*) FROM lead_scoring_point
                    WHERE model_id = %s GROUP BY partner_id""",
                [model_id],
            )
            counts = dict(cr.fetchall())
            cr.rollback()
        self.assertEqual(counts, dict.fromkeys(partner_ids, 1))
