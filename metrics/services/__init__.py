"""metrics' writes, one module per concern: snapshots, health recomputation, escalation
flags."""
