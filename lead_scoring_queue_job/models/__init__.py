from . import lead_scoring_model
from . import res_config_settings
