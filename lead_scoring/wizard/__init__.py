from . import lead_scoring_point_manual
from . import base_partner_merge_automatic_wizard
