"""Marketo in: a real instance's campaigns and traffic, read from its documented API
payloads and exports (the Asset API's smart campaigns, smart lists and flow steps; the Bulk
Activity Extract and Get Lead Activities), turned into a scenario file and a CSV replay by
`sim import`, and compared with what the instance did by `sim compare` (docs/import.md).

This stage comes after `sim.scenario` (it builds and checks scenarios) and before the run:
it imports no trio and runs nothing.
"""
