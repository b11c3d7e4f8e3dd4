"""The running service: wiring sources, analysers, outbox and publisher from the config; the main
loop with its watchdog; systemd notification, journald logging and the local status socket.
"""
