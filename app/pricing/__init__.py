"""Price management: price changes approved in BPMN and written to the ERP, Excel import and export."""
