from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import LeadScoringCase


@tagged("post_install", "-at_install")
class TestThresholdDown(LeadScoringCase):
    """A downward threshold catches falling engagement: it fires once when a
    score falls from at or above its value to below it, and re-arms above."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.engagement = cls.create_model("Betrokkenheid")
        cls.tips = cls.env["ir.actions.server"].create(
            {
                "name": "Schedule tips",
                "model_id": cls.env["ir.model"]._get_id("res.partner"),
                "state": "code",
                "code": "records.write({'comment': (records[:1].comment or '') + 'tip;'})",
            }
        )
        cls.threshold = cls.env["lead.scoring.threshold"].create(
            {
                "model_id": cls.engagement.id,
                "name": "Engagement dropping",
                "score": 20,
                "direction": "down",
                "action": "server_action",
                "server_action_id": cls.tips.id,
            }
        )

    def add(self, partner, points):
        self.Point._add_points(self.engagement, [(partner.id, points, "Activity")], "manual")
        self.recompute()

    def tips_of(self, partner):
        return (partner.comment or "").count("tip;")

    def test_fires_once_on_the_fall_and_rearms_above(self):
        self.add(self.anna, 10)
        self.assertEqual(self.tips_of(self.anna), 0, "never at or above: nothing to catch")
        self.add(self.anna, 15)  # 25: armed
        self.assertEqual(self.tips_of(self.anna), 0)
        self.add(self.anna, -10)  # 15: falls below
        self.assertEqual(self.tips_of(self.anna), 1)
        self.add(self.anna, -5)  # 10: still below, no second time
        self.assertEqual(self.tips_of(self.anna), 1)
        self.add(self.anna, 20)  # 30: back up, re-armed
        self.add(self.anna, -25)  # 5: falls again
        self.assertEqual(self.tips_of(self.anna), 2)
        self.assertEqual(self.tips_of(self.bram), 0)

    def test_down_thresholds_do_not_create_deals(self):
        with self.assertRaises(ValidationError):
            self.env["lead.scoring.threshold"].create(
                {
                    "model_id": self.engagement.id,
                    "name": "Wrong",
                    "score": 5,
                    "direction": "down",
                    "action": "create_deal",
                }
            )
