"""SMS gateways (Twilio, SMS Gateway for Android, console) and their webhooks.

The gateway interface is declared in slrt/; the implementations land here with the
SMS pipeline. Until then messages wait in the outbox (SmsMessage, status pending).
"""
