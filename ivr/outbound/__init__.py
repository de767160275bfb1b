"""Every call and SMS the hotline places: the dialer and its jobs, the account-wide pace, fee campaigns (催缴), and what the answered calls hear."""
