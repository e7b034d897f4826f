"""The factor tables behind every impact figure (emission and cost factors, bulk densities,
trucks), the haul a party recorded for an order, and the pure arithmetic on them. Reports
and a receipt's haul (trace) both read them; they import neither."""
