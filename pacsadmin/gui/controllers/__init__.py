"""Controllers: they submit the core's functions as jobs through the bridge and feed the
views and models from the jobs' callbacks (GUI thread).  Widgets never call the core."""
