"""The site's shell around the areas: the home page and the template helpers that show the
catalogue on every page. It sits above catalog, so core (the plumbing every area uses)
needs no catalog."""
