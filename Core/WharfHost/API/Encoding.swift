import WharfManifest
import WharfModel
import WharfPlugins
import WharfStore

/// JSON shapes of the REST API's resources, written with `JSONWriter` (one place per resource, shared by routes).
enum Encoding {
    static func product(_ product: Product, prices: [BasePrice]?, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.field("sku", product.sku)
        writer.field("name", product.name)
        writer.field("description", product.description)
        writer.field("status", product.status.rawValue)
        writer.key("attributes")
        writer.beginObject()
        for key in product.attributes.keys.sorted() { writer.field(key, product.attributes[key]) }
        writer.endObject()
        writer.key("categories")
        writer.beginArray()
        for code in product.categories { writer.value(code) }
        writer.endArray()
        writer.key("media")
        writer.beginArray()
        for url in product.media { writer.value(url) }
        writer.endArray()
        writer.key("texts")
        writer.beginObject()
        for lang in product.texts.keys.sorted() {
            let text = product.texts[lang]!
            writer.key(lang)
            writer.beginObject()
            writer.field("name", text.name)
            writer.field("description", text.description)
            writer.endObject()
        }
        writer.endObject()
        if let prices {
            writer.key("prices")
            writer.beginArray()
            for price in prices { self.price(price, into: &writer) }
            writer.endArray()
        }
        writer.field("createdAt", product.createdAt?.rfc3339)
        writer.field("updatedAt", product.updatedAt?.rfc3339)
        writer.endObject()
    }

    static func price(_ price: BasePrice, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.field("currency", price.price.currency.code)
        writer.field("amount", price.price.decimalString)
        writer.field("amountMinor", price.price.minorUnits)
        writer.field("minQuantity", price.minQuantity)
        writer.field("updatedAt", price.updatedAt?.rfc3339)
        writer.endObject()
    }

    static func inventory(_ summary: InventorySummary, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.field("sku", summary.sku)
        writer.key("sources")
        writer.beginArray()
        for item in summary.items {
            writer.beginObject()
            writer.field("source", item.sourceCode)
            writer.field("quantity", item.quantity)
            writer.field("status", item.status.rawValue)
            writer.field("updatedAt", item.updatedAt?.rfc3339)
            writer.endObject()
        }
        writer.endArray()
        writer.field("totalQuantity", summary.totalQuantity)
        writer.endObject()
    }

    static func run(_ run: Run, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.field("id", run.id)
        writer.field("connector", run.connector)
        writer.field("plugin", run.pluginID)
        writer.field("trigger", run.trigger.rawValue)
        writer.field("state", run.state.rawValue)
        writer.field("startedAt", run.startedAt.rfc3339)
        writer.field("finishedAt", run.finishedAt?.rfc3339)
        writer.key("counts")
        writer.beginObject()
        writer.field("read", run.counts.read)
        writer.field("inserted", run.counts.inserted)
        writer.field("updated", run.counts.updated)
        writer.field("unchanged", run.counts.unchanged)
        writer.field("rejected", run.counts.rejected)
        writer.endObject()
        writer.field("error", run.error)
        writer.endObject()
    }

    static func reject(_ reject: Reject, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.field("id", reject.id)
        writer.field("run", reject.runID)
        writer.field("connector", reject.connector)
        writer.key("location")
        writer.beginObject()
        writer.field("source", reject.location.source)
        writer.field("line", reject.location.line)
        writer.field("column", reject.location.column)
        writer.field("record", reject.location.recordNumber)
        writer.endObject()
        writer.field("entity", reject.entity)
        writer.field("field", reject.field)
        writer.field("reason", reject.reason)
        writer.field("raw", reject.raw)
        writer.field("createdAt", reject.createdAt.rfc3339)
        writer.endObject()
    }

    static func plugin(_ info: PluginInfo, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.field("id", info.id)
        writer.field("system", info.systemKind)
        writer.field("version", info.version)
        writer.field("description", info.description)
        writer.field("abi", "\(info.abiMajor).\(info.abiMinor)")
        writer.key("capabilities")
        writer.beginArray()
        for name in info.capabilities.names { writer.value(name) }
        writer.endArray()
        writer.field("path", info.path)
        writer.endObject()
    }
}
