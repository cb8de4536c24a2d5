from . import test_lead_scoring_ticket
from . import lead_scoring_point
