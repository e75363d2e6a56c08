"""channel_connectors"""
