from . import lead_scoring_automation
from . import lead_scoring_page_view
from . import lead_scoring_website_hit
from . import website_visitor
from . import res_partner
from . import crm_lead
