"""One module per rule, plus what they share: the device setup and state saving (`base`),
doors and defrosts (`disturbance`), heated-cabinet cycles (`cycles`), seal grading (`seal`)."""
