from . import lead_scoring_conversion_report
