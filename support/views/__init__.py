"""HTML views of the support desk: the queue, the ticket page, the customer portal."""
