from . import test_automation_lines
from . import test_known_visitor
from . import test_page_visits
from . import test_hostile_routes
from . import test_award_path
from . import test_page_view_batch
