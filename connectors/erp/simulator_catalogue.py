"""The ERP simulator's master data: an FMCG catalogue, sales areas, plants and PR00 prices.

The platform's product side seeds the same material numbers, so a demo order placed in the
portal prices and delivers in the simulator. Everything here is plain data (no imports).

Sales organisations: 1000 East China (Shanghai), 2000 South China (Guangzhou); distribution
channels 10 (dealers / wholesale) and 20 (key accounts / modern retail); division 00.
Plants: 1100 Shanghai, 2100 Guangzhou. Prices are CNY per case (CS), net of VAT (13 %).
"""

SALES_ORGS = {"1000": "华东销售组织 East China", "2000": "华南销售组织 South China"}
CHANNELS = {"10": "经销商 Dealers", "20": "重点客户 Key accounts"}
DIVISION = "00"
PLANTS = {"1100": "上海工厂 Shanghai plant", "2100": "广州工厂 Guangzhou plant"}
DELIVERING_PLANT = {"1000": "1100", "2000": "2100"}  # per sales org
COMPANY_CODE = {"1000": "1000", "2000": "2000"}  # sales org -> company code
VAT_RATE = "0.13"

# Product hierarchy (PRODH): level 1 = 3 characters, level 2 = 6 characters.
HIERARCHY = [
    ("BEV", 1, "饮料 Beverages"),
    ("BEVCSD", 2, "碳酸饮料 Carbonated soft drinks"),
    ("BEVWTR", 2, "包装饮用水 Bottled water"),
    ("BEVTEA", 2, "茶饮料 Tea drinks"),
    ("SNK", 1, "休闲食品 Snacks"),
    ("SNKCHP", 2, "薯片 Potato chips"),
    ("SNKBIS", 2, "饼干 Biscuits"),
    ("PCR", 1, "个人护理 Personal care"),
    ("PCRHAR", 2, "洗发护发 Hair care"),
    ("PCRORL", 2, "口腔护理 Oral care"),
]

# (material, Chinese description, English description, PRODH, material group, EAN,
#  PR00 price in sales org 1000 / channel 10). Channel 20 pays 5 % more; org 2000 the same.
MATERIALS = [
    ("DF-BV-1001", "清爽可乐 330ml×24罐", "Cola 330 ml x 24 cans", "BEVCSD", "BEV01",
     "6901234500011", "48.00"),
    ("DF-BV-1002", "柠檬汽水 330ml×24罐", "Lemon soda 330 ml x 24 cans", "BEVCSD", "BEV01",
     "6901234500028", "46.00"),
    ("DF-BV-2001", "天然饮用水 550ml×24瓶", "Natural water 550 ml x 24 bottles", "BEVWTR",
     "BEV02", "6901234500035", "24.00"),
    ("DF-BV-3001", "冰红茶 500ml×15瓶", "Iced black tea 500 ml x 15 bottles", "BEVTEA", "BEV03",
     "6901234500042", "45.00"),
    ("DF-SN-1001", "原味薯片 70g×20袋", "Potato chips original 70 g x 20 bags", "SNKCHP",
     "SNK01", "6901234500059", "88.00"),
    ("DF-SN-1002", "番茄味薯片 70g×20袋", "Potato chips tomato 70 g x 20 bags", "SNKCHP",
     "SNK01", "6901234500066", "88.00"),
    ("DF-SN-2001", "苏打饼干 400g×12盒", "Soda crackers 400 g x 12 boxes", "SNKBIS", "SNK02",
     "6901234500073", "96.00"),
    ("DF-PC-1001", "去屑洗发水 400ml×12瓶", "Anti-dandruff shampoo 400 ml x 12", "PCRHAR",
     "PCR01", "6901234500080", "360.00"),
    ("DF-PC-2001", "美白牙膏 120g×36支", "Whitening toothpaste 120 g x 36", "PCRORL", "PCR02",
     "6901234500097", "324.00"),
    ("DF-PC-2002", "软毛牙刷 ×60支", "Soft toothbrush x 60", "PCRORL", "PCR02",
     "6901234500103", "240.00"),
]
BASE_UOM = "CS"
# Personal care is not sold in South China (org 2000): an order there is rejected.
NOT_SOLD = {("2000", "DF-PC-1001"), ("2000", "DF-PC-2001"), ("2000", "DF-PC-2002")}
PRICE_VALID_FROM = "2020-01-01"
PRICE_VALID_TO = "9999-12-31"
CHANNEL_SURCHARGE = {"10": "1.00", "20": "1.05"}
