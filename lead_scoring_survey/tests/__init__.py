from . import test_survey_completed
