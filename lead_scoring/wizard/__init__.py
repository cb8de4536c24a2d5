from . import lead_scoring_point_manual
from . import base_partner_merge_automatic_wizard
from . import lead_scoring_lab
from . import lead_scoring_lab_line
from . import lead_scoring_lab_candidate
from . import lead_scoring_lab_lift
