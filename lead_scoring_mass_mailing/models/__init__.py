from . import lead_scoring_automation
from . import lead_scoring_mailing_event
from . import ir_actions_server
from . import mailing_trace
from . import link_tracker_click
from . import mailing_subscription
from . import res_partner
from . import lead_scoring_threshold
