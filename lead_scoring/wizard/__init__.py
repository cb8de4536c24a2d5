from . import lead_scoring_point_manual
