from . import test_mailing_events
from . import test_mailing_tracking
from . import test_ui
