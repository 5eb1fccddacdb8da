#!/usr/bin/env python3
"""The reference pipeline for scripts/bench-ingest: the same feed into SQLite with lxml.iterparse (streaming, elements
cleared as they go) and sqlite3 executemany in batches, with upserts like Wharf's (products, base prices, stock per
source) and WAL. Prints the number of products it stored."""
import sqlite3, sys
from lxml import etree

NS = "{urn:wharf:bench:feed}"

def main():
    feed, db_path = sys.argv[1], sys.argv[2]
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript("""
        CREATE TABLE IF NOT EXISTS products (sku TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT, status TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS base_prices (sku TEXT, currency TEXT, amount_minor INTEGER NOT NULL, PRIMARY KEY (sku, currency));
        CREATE TABLE IF NOT EXISTS stock (sku TEXT, source TEXT, quantity INTEGER NOT NULL, PRIMARY KEY (sku, source));
    """)
    products, prices, stock = [], [], []
    count = 0

    def flush():
        db.executemany("INSERT INTO products VALUES (?,?,?,?) ON CONFLICT(sku) DO UPDATE SET name=excluded.name, "
                       "description=excluded.description, status=excluded.status", products)
        db.executemany("INSERT INTO base_prices VALUES (?,?,?) ON CONFLICT(sku, currency) DO UPDATE SET "
                       "amount_minor=excluded.amount_minor", prices)
        db.executemany("INSERT INTO stock VALUES (?,?,?) ON CONFLICT(sku, source) DO UPDATE SET "
                       "quantity=excluded.quantity", stock)
        db.commit()
        products.clear(); prices.clear(); stock.clear()

    for _, element in etree.iterparse(feed, events=("end",), tag=NS + "PRODUCT"):
        sku = element.findtext(NS + "SKU")
        products.append((sku, element.findtext(NS + "NAME"), element.findtext(NS + "DESCRIPTION"), element.findtext(NS + "STATUS")))
        price = element.find(NS + "PRICE")
        whole, _, cents = price.text.partition(".")
        prices.append((sku, price.get("currency"), int(whole) * 100 + int((cents + "00")[:2])))
        for item in element.iterfind(NS + "STOCK"):
            stock.append((sku, item.get("warehouse"), int(item.text)))
        count += 1
        element.clear()
        while element.getprevious() is not None:
            del element.getparent()[0]
        if len(products) >= 2000:
            flush()
    flush()
    print(count)

if __name__ == "__main__":
    main()
