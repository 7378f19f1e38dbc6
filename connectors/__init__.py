"""Connectors: named operations that BPMN service tasks call (ERP, SMS, e-signature, internal)."""
