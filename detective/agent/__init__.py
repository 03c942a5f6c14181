"""The Detective itself: the LangGraph graph, its state, configuration, events, stop rule, planners and prompts."""
