-- wrk script for the POST scenario: 64 KiB bodies of 'x', as the contenders send.
wrk.method = "POST"
wrk.body = string.rep("x", 65536)
