#!/usr/bin/env python3
"""Writes a synthetic ERP product feed for scripts/bench-ingest: N products, each with a name, a description, a net
list price and quantities at two warehouses (~400 bytes a product, ~400 MB for 1,000,000)."""
import sys

def main():
    count, path = int(sys.argv[1]), sys.argv[2]
    filler = "Robust stainless fitting for marine and industrial use, corrosion resistant, tested to DIN 3859. " * 2
    with open(path, "w", encoding="utf-8", buffering=1 << 20) as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<CATALOG xmlns="urn:wharf:bench:feed" generated="2026-11-23">\n')
        for i in range(1, count + 1):
            out.write(
                '<PRODUCT id="%d"><SKU>SKU-%07d</SKU><NAME>Fitting %d</NAME><DESCRIPTION>%s</DESCRIPTION>'
                '<STATUS>active</STATUS><PRICE type="net_list" currency="EUR">%d.%02d</PRICE>'
                '<STOCK warehouse="BER">%d</STOCK><STOCK warehouse="HAM">%d</STOCK></PRODUCT>\n'
                % (i, i, i, filler, 1 + i % 500, i % 100, i % 37, i % 11))
        out.write("</CATALOG>\n")

if __name__ == "__main__":
    main()
