"""Pure version comparators, one module per scheme; `comparator(scheme)` picks one."""
