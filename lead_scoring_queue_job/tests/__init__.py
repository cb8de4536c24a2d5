from . import test_id_ranges
from . import test_recompute_jobs
