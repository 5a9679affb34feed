"""Item-bank exporters: a bank's content written out in a format people edit (XLSX)."""
