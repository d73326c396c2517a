"""The vulnerability DB: schema, builder, reader, feeds."""
