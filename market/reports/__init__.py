"""Impact figures (CO2, cost saved) and dashboards for every kind of organisation."""
