import Foundation
import WharfModel
import WharfTestSupport
import XCTest

@testable import WharfHost

/// The real-world samples (../shared/samples/real-world, written by others) ingested with the shipped example
/// manifests (manifests/examples) through the real plugin library, the real host and the real SQLite store, and
/// checked value by value against the files.
final class RealFeedTests: XCTestCase {
    private func prices(_ env: XMLDeployment, _ sku: String) throws -> [String] {
        try env.store.basePrices(sku: sku)
            .map { "\($0.price.currency.code) \($0.price.decimalString) from \($0.minQuantity)" }
            .sorted()
    }

    func testBMEcat12NewCatalog_ProductTierPricesAndClassificationTree() throws {
        let env = try XMLDeployment(example: "bmecat12.json5")
        let run = try env.run("bmecat12-catalog")
        XCTAssertEqual(run.state, .succeeded, run.error ?? "")
        XCTAssertEqual(run.counts.inserted, 8, "5 categories, 1 product, 2 prices")
        XCTAssertEqual(run.counts.rejected, 0, "\((try? env.rejects(run))?.map(\.reason) ?? [])")

        let product = try XCTUnwrap(try env.store.product(sku: "1000"))
        XCTAssertEqual(product.name, "Apple MacBook Pro 13\"", "&#34; is a quote")
        XCTAssertEqual(product.description, "Das Kraftpaket unter den Notebooks.")
        XCTAssertEqual(product.attributes, [
            "ean": "8712670911213", "manufacturer": "Microsoft", "manufacturer_aid": "MPN", "keywords": "Notebook, Hardware",
            "order_unit": "BOX", "delivery_days": "2", "Netzspannung": "110, 220",
        ])
        XCTAssertEqual(product.categories, ["5"], "the article's group in udf_Supplier-1.0")
        XCTAssertEqual(product.media, ["https://example.com/images/55-K-31.jpg"], "MIME_ROOT + MIME_SOURCE")
        XCTAssertEqual(product.texts["de"]?.name, "Apple MacBook Pro 13\"")
        XCTAssertEqual(try prices(env, "1000"), ["EUR 1300.90 from 100", "EUR 1499.50 from 1"])

        let categories = try env.store.categories().sorted { $0.code < $1.code }
        XCTAssertEqual(categories.map(\.code), ["1", "2", "3", "4", "5"])
        XCTAssertEqual(categories.map(\.name), ["Hardware", "Notebook", "Desktop", "PC", "Mac"])
        XCTAssertEqual(categories.map(\.parent), [nil, "1", "1", "2", "2"])

        // The same file again is skipped by its checksum; the price update repeats the same prices: unchanged.
        let again = try env.run("bmecat12-catalog")
        XCTAssertEqual(again.counts.read, 0)
        XCTAssertFalse(env.logs(containing: "was imported before").isEmpty)
        let update = try env.run("bmecat12-prices")
        XCTAssertEqual(update.state, .succeeded, update.error ?? "")
        XCTAssertEqual(update.counts.unchanged, 2, "T_UPDATE_PRICES carries the same two tiers")
        XCTAssertEqual(update.counts.inserted + update.counts.updated, 0)
    }

    func testBMEcat12PriceUpdate_ArticleGivesOnlyContextToItsPrices() throws {
        let env = try XMLDeployment(example: "bmecat12.json5")
        let run = try env.run("bmecat12-prices")
        XCTAssertEqual(run.state, .succeeded, run.error ?? "")
        XCTAssertEqual(run.counts.inserted, 2)
        XCTAssertEqual(try prices(env, "1000"), ["EUR 1300.90 from 100", "EUR 1499.50 from 1"])
        XCTAssertNil(try env.store.product(sku: "1000"), "an update of prices creates no product")
    }

    func testBMEcat101WithDTD_ParsesWithoutFetchingTheDTDAndRejectsDeutschmarkPrices() throws {
        let env = try XMLDeployment(example: "bmecat101.json5")
        let run = try env.run("bmecat101-catalog")
        XCTAssertEqual(run.state, .succeeded, run.error ?? "")
        let sample = try Samples.text("bmecat101-with-dtd.xml")

        let charlie = try XCTUnwrap(try env.store.product(sku: "54-Charlie-R"))
        XCTAssertEqual(charlie.name, "Freizeithemd Charlie")
        XCTAssertEqual(charlie.description, "Das modische Hemd der Extraklasse.")
        XCTAssertEqual(charlie.attributes, [
            "ean": "87126709", "manufacturer": "Faden und Soehne", "keywords": "Oberhemd, Strandhemd", "valuation": "2.3",
            "Gewicht": "500", "Farbe": "Rot",
        ])
        XCTAssertEqual(charlie.media, ["charlie.jpg", "charlie.pdf"])
        let dennis = try XCTUnwrap(try env.store.product(sku: "54-Dennis-B"))
        XCTAssertEqual(dennis.attributes["Farbe"], "Weiss")
        XCTAssertEqual(dennis.attributes["keywords"], "Oberhemd")

        // net_list: Charlie 20,00 DEM and 10,00 EUR; Dennis 20,00 in the catalog's currency (DEM).
        XCTAssertEqual(try prices(env, "54-Charlie-R"), ["EUR 10.00 from 1"])
        XCTAssertEqual(try prices(env, "54-Dennis-B"), [])
        let rejects = try env.rejects(run)
        XCTAssertEqual(rejects.count, 2, "\(rejects.map(\.reason))")
        XCTAssertEqual(rejects.map(\.field), ["currency", "currency"])
        XCTAssertTrue(rejects.allSatisfy { $0.reason.contains("DEM") }, "\(rejects.map(\.reason))")
        let first = try XCTUnwrap(Samples.position(of: "<ARTICLE_PRICE price_type=\"net_list\">", occurrence: 1, in: sample))
        let third = try XCTUnwrap(Samples.position(of: "<ARTICLE_PRICE price_type=\"net_list\">", occurrence: 3, in: sample))
        XCTAssertEqual(rejects.map(\.location.line), [first.line, third.line])
        XCTAssertEqual(rejects.map(\.location.column), [first.column, third.column])
        XCTAssertEqual(rejects.map(\.location.recordNumber), [7, 8], "6 category elements come first")
        XCTAssertTrue(rejects[0].raw?.hasPrefix("<ARTICLE>") == true, rejects[0].raw ?? "-")

        let categories = try env.store.categories().sorted { $0.code < $1.code }
        XCTAssertEqual(categories.map(\.name), ["Herrenbekleidung", "Oberbekleidung", "Unterwaesche", "Struempfe", "Hemden", "Hosen"])
        XCTAssertEqual(categories.map(\.parent), [nil, "1", "1", "1", "2", "2"], "PARENT_ID 0 means a root")
        XCTAssertEqual(categories.first?.texts["de"], "Herrenbekleidung")
    }

    func testBMEcat2005Weidmueller_BothFilesWithTextsFeaturesAndClassification() throws {
        let env = try XMLDeployment(example: "bmecat2005-weidmueller.json5")
        let run = try env.run("weidmueller")
        XCTAssertEqual(run.state, .succeeded, run.error ?? "")
        XCTAssertEqual(run.counts.inserted, 2)
        XCTAssertEqual(run.counts.rejected, 0, "\((try? env.rejects(run))?.map(\.reason) ?? [])")

        let marker = try XCTUnwrap(try env.store.product(sku: "1609801044"))
        XCTAssertEqual(marker.name, "Terminal marking")
        XCTAssertEqual(marker.description, "Dekafix, Terminal marker, 5 x 5 mm, Pitch, in mm: 5.00 Weidmueller, White")
        XCTAssertEqual(marker.texts["de"]?.name, "Klemmenmarkierung")
        XCTAssertEqual(marker.texts["de"]?.description, "Dekafix, Klemmenmarkierung, 5 x 5 mm, Raster in mm: 5.00 Weidmueller, weiß")
        XCTAssertEqual(marker.texts["en"]?.name, "Terminal marking")
        XCTAssertEqual(marker.categories, ["ECLASS-9.0:27141137"])
        XCTAssertEqual(marker.media, [
            "http://catalog.weidmueller.com/cgi-bin/cm_syb.exe?Startup=externalAccess&UserID=webuser&Password=webuser&UserLang=en&CatalogStyle=pure&Caller=web&ObjectID=1609801044",
        ])
        let expected: [String: String] = [
            "ean": "4008190397111", "manufacturer": "Weidmueller Group", "type": "DEK 5/5 MC NE WS", "keywords": "Terminal marking",
            "order_unit": "C62",
            "Nettogewicht": "0.00013",                                  // FVALUE
            "Einbauform": "Aufbau",                                      // no FVALUE: FVALUE_DETAILS
            "Breite": "4.9", "Höhe": "5.2", "Tiefe": "2.373",
            "Befestigungsbezugspunkt (in mm)": "2.45, 2.6, 1.573, 0, 0, 0",  // every FVALUE joined
            "Herstellerartikeltyp": "Terminal marking",                  // the English one of two
            "Hersteller-Name": "Weidmueller Group",                      // inside a FEATURE_GROUP
            "Zolltarifnummer": "Zolltarifnummer", "Wert Zolltarifnummer": "39269097",
            "Quelle als Pfadangabe": "./MIME/16098010449999.tif",        // repeated name: the first wins
            "Anzahl der Teilebeziehungen": "0",
        ]
        for (name, value) in expected {
            XCTAssertEqual(marker.attributes[name], value, name)
        }
        XCTAssertEqual(marker.attributes.count, 44 + 5, "every distinct FT_NAME of the file plus the 5 mapped attributes")

        let arrester = try XCTUnwrap(try env.store.product(sku: "1351590000"))
        XCTAssertEqual(arrester.name, "Surge voltage arrester (power suply systems)", "collapse joins the double space")
        XCTAssertEqual(arrester.texts["de"]?.name, "Überspannungsableiter (Energietechnik/Stromversorgung)")
        XCTAssertEqual(arrester.attributes["type"], "VPU I 1 LCF 280V/25KA")
        XCTAssertEqual(
            arrester.attributes["keywords"], "SPD, Surge voltage arrester, Surge Protection Device, Surge Protective Device",
            "the keyword with a line break inside is collapsed")
        XCTAssertEqual(try prices(env, "1609801044"), [], "the files' PRODUCT_PRICE elements carry no PRICE_AMOUNT")

        let again = try env.run("weidmueller")
        XCTAssertEqual(again.counts.read, 0, "both files are skipped by checksum")
        XCTAssertEqual(env.logs(containing: "was imported before").count, 2)
    }

    func testBMEcat2005Weidmueller_APriceWithoutAmountIsRejectedWithItsPosition() throws {
        let path = Samples.path("bmecat2005-weidmueller-1609801044.xml")
        let env = try XMLDeployment(connectors: """
            [{ name: "w", plugin: "erp-xml", config: { path: \(jsonString(path)) }, mapping: {
                namespaces: { "": "http://www.bmecat.org/bmecat/2005+onto" },
                records: [{ path: "/BMECAT/T_NEW_CATALOG/PRODUCT", fields: { sku: "SUPPLIER_PID" }, records: [{
                  each: "PRODUCT_PRICE_DETAILS/PRODUCT_PRICE", entity: "price",
                  fields: { sku: { record: "sku" }, currency: { path: "PRICE_CURRENCY", default: "EUR" }, amount: "PRICE_AMOUNT",
                            min_quantity: "LOWER_BOUND" } }] }] } }]
            """)
        let run = try env.run("w")
        XCTAssertEqual(run.state, .succeeded, run.error ?? "")
        let rejects = try env.rejects(run)
        XCTAssertEqual(rejects.count, 1)
        let place = try XCTUnwrap(Samples.position(of: "<PRODUCT_PRICE price_type", in: try Samples.text("bmecat2005-weidmueller-1609801044.xml")))
        XCTAssertEqual(rejects.first?.location.line, place.line)
        XCTAssertEqual(rejects.first?.location.column, place.column)
        XCTAssertEqual(rejects.first?.location.source, path)
        XCTAssertEqual(rejects.first?.field, "amount")
        XCTAssertTrue(rejects.first?.reason.contains("amount is missing: PRICE_AMOUNT gave no value") == true, rejects.first?.reason ?? "")
        XCTAssertTrue(rejects.first?.reason.contains("mapping.records[0].records[0].fields.amount") == true, rejects.first?.reason ?? "")
    }

    func testCXMLProductActivity_StockOnHandPerLocation() throws {
        let env = try XMLDeployment(example: "cxml-stock.json5")
        let run = try env.run("cxml-stock")
        XCTAssertEqual(run.state, .succeeded, run.error ?? "")
        XCTAssertEqual(run.counts.rejected, 0, "\((try? env.rejects(run))?.map(\.reason) ?? [])")
        XCTAssertEqual(try env.store.sources().map { "\($0.code)=\($0.name)" }, ["0003=Warehouse"])
        let stock = try XCTUnwrap(try env.store.inventory(sku: "SII99825"))
        XCTAssertEqual(stock.items.map { "\($0.sourceCode):\($0.quantity)" }, ["0003:200"])
        XCTAssertEqual(stock.totalQuantity, 200)
        XCTAssertTrue(env.logs(containing: "xml.cxml.org").isEmpty, "the external DTD is not even mentioned as loaded")
    }

    func testOAGISNotifyInventoryBalance_VendorPartAtTheBuyerLocation() throws {
        let env = try XMLDeployment(example: "oagis-inventory.json5")
        let run = try env.run("oagis-inventory")
        XCTAssertEqual(run.state, .succeeded, run.error ?? "")
        XCTAssertEqual(run.counts.rejected, 0, "\((try? env.rejects(run))?.map(\.reason) ?? [])")
        let stock = try XCTUnwrap(try env.store.inventory(sku: "Supplier Part Number"))
        XCTAssertEqual(stock.items.map { "\($0.sourceCode):\($0.quantity)" }, ["buyer-location:100"])
        XCTAssertNil(try env.store.inventory(sku: "Buyer Part Number"))
    }

    func testExampleManifestsPassManifestCheck() throws {
        for (file, connectors) in [
            ("bmecat12.json5", ["bmecat12-catalog", "bmecat12-prices"]), ("bmecat101.json5", ["bmecat101-catalog"]),
            ("bmecat2005-weidmueller.json5", ["weidmueller"]), ("cxml-stock.json5", ["cxml-stock"]),
            ("oagis-inventory.json5", ["oagis-inventory"]),
        ] {
            let env = try XMLDeployment(example: file)
            for connector in connectors { XCTAssertNil(env.check(connector), "\(file) \(connector)") }
        }
    }
}
