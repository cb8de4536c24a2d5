from . import test_third_target
