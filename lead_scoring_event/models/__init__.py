from . import lead_scoring_automation
from . import ir_actions_server
from . import event_registration
