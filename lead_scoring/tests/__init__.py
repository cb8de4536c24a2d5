from . import test_rule_engine
from . import test_security
from . import test_adjust_score
from . import test_threshold
from . import test_automation_tab
from . import test_ui
from . import test_reporting
from . import test_reliability
