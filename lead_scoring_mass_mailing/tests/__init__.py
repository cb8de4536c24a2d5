from . import test_mailing_events
from . import test_mailing_tracking
from . import test_ui
from . import test_hostile_routes
from . import test_threshold_lists
from . import test_hit_batch
from . import test_threshold_concurrency
