"""PowerCRM: the customer-analytics warehouse of an electricity supply company."""

__version__ = "0.1.0"
