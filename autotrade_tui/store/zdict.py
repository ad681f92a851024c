"""The preset dictionaries of compressed JSON columns (store/codec.py). FROZEN: a stored value
names its dictionary (zlib's DICTID, an Adler-32 of it) and is unreadable without it, so a
dictionary is never edited or removed; a better one is appended and becomes the one used.

V1 is one decision's `input_data` (context + prompt, compact JSON, as recorded in December
2026): a new row shares its keys, the system prompt and most of its wording, so it compresses
to ~1.5 KB instead of ~2.9 KB with zlib alone (~7 KB raw).
"""

from __future__ import annotations

V1 = (
    b'{"context":{"symbol":"SOL/USDT","ts":1796617995.860136,"price":229.0384444738763'
    b',"indicators":{"sma_20":229.26328344168252,"sma_50":229.2826618875675,"sma_200":'
    b'226.8135535913095,"ema_12":229.58583406642035,"ema_26":229.3933886591667,"ema_50'
    b'":229.16390155462057,"macd":0.19244540725375714,"macd_signal":0.1537300002394403'
    b',"macd_hist":0.03871540701431683,"rsi_14":50.02605243830723,"bb_upper":230.43238'
    b'16440927,"bb_middle":229.26328344168252,"bb_lower":228.09418523927235,"bb_percen'
    b't_b":0.5524328228296966,"bb_width":0.010198739064186446,"atr_14":0.6841264649655'
    b'752,"adx_14":13.851436164329394,"plus_di":12.609806934824022,"minus_di":20.92886'
    b'1392407548,"stoch_k":73.34816386826876,"stoch_d":83.44573756266335,"obv":60122.1'
    b'2732078565,"cci_20":10.889062510990618,"willr_14":-39.71831922838701,"mfi_14":40'
    b'.21553593379119,"vwap":229.12361767069441,"kc_upper":230.01323850554064,"kc_midd'
    b'le":229.27788341523743,"kc_lower":228.54252832493415,"dc_upper":230.626268358122'
    b'2,"dc_middle":229.0647890424036,"dc_lower":227.503309726685,"ichimoku_conv":229.'
    b'73412194574283,"ichimoku_base":229.0647890424036,"ichimoku_a":229.3994554940732,'
    b'"ichimoku_b":229.0647890424036,"roc_10":0.02415081629703053},"signals":{"trend":'
    b'"neutral","momentum":"bullish","volatility":"normal","trend_strength":"weak","bo'
    b'llinger":"inside","macd":"bullish"},"support":[228.86646431260027,228.6192218680'
    b'329,228.28385470183957],"resistance":[229.6193421997461,230.04780175977723,230.5'
    b'4506158623147],"position":null,"account":{"equity":100000.0,"free_capital":10000'
    b'0.0,"open_positions":0,"realized_pnl":0.0,"win_rate_pct":0.0,"closed_trades":0},'
    b'"recent_events":[],"fundamentals":null,"recent_closes":[229.0979532344517,229.09'
    b'568352006306,228.87787227560045,228.44903686280148,228.45608996341664,227.959830'
    b'08223777,228.92756792688485,229.20298616107246,228.87085744021155,229.3304964925'
    b'9652,229.27927327296317,229.10000165801276,229.68057725747053,229.8772435085781,'
    b'229.78130894298448,230.09408803988524,230.00077440454467,230.36684278582354,229.'
    b'43130332453475,229.3858816795175]},"prompt":[{"role":"system","content":"You are'
    b' a disciplined crypto trading analyst driving a PAPER-trading account (no real m'
    b'oney) that trades perpetual-style positions with leverage and isolated margin. F'
    b'or one symbol at a time you receive the current price, technical indicators, der'
    b'ived signals, support and resistance levels, the open position, the account, rec'
    b'ent market events and, when available, market fundamentals. Decide what to do no'
    b'w.\\n\\nRules:\\n- BUY means go long: if a SHORT position is open it is closed firs'
    b't, then a LONG is opened; if a LONG is open, BUY adds to it.\\n- SELL means go sh'
    b'ort: if a LONG position is open it is closed first, then a SHORT is opened; if a'
    b' SHORT is open, SELL adds to it.\\n- HOLD means do nothing. Prefer HOLD when the '
    b'signals conflict or the edge is unclear.\\n- Positions are leveraged: a move agai'
    b'nst the position can liquidate its margin. Weigh the volatility (ATR, Bollinger '
    b'width) and the distance to liquidation.\\n- Confidence is your probability (0 to '
    b'1) that the decision is right over the next few candles; low-confidence decision'
    b's are filtered out and not executed. Do not inflate it.\\n- Base the decision onl'
    b'y on the data given. Cite the numbers that drove it.\\n\\nAnswer with exactly one '
    b'JSON object and nothing else (no prose, no code fences):\\n{\\"decision\\": \\"BUY\\"'
    b' | \\"SELL\\" | \\"HOLD\\", \\"confidence\\": <number from 0 to 1>, \\"reasoning\\": \\"<'
    b'one to three sentences citing the key numbers>\\"}"},{"role":"user","content":"Sy'
    b'mbol: SOL/USDT\\nTime: 2026-12-07 04:33:15 UTC\\nPrice: 229.04\\n\\nIndicators:\\n- a'
    b'dx_14: 13.8514\\n- atr_14: 0.684126\\n- bb_lower: 228.09\\n- bb_middle: 229.26\\n- b'
    b'b_percent_b: 0.552433\\n- bb_upper: 230.43\\n- bb_width: 0.010199\\n- cci_20: 10.88'
    b'91\\n- dc_lower: 227.5\\n- dc_middle: 229.06\\n- dc_upper: 230.63\\n- ema_12: 229.59'
    b'\\n- ema_26: 229.39\\n- ema_50: 229.16\\n- ichimoku_a: 229.4\\n- ichimoku_b: 229.06\\'
    b'n- ichimoku_base: 229.06\\n- ichimoku_conv: 229.73\\n- kc_lower: 228.54\\n- kc_midd'
    b'le: 229.28\\n- kc_upper: 230.01\\n- macd: 0.192445\\n- macd_hist: 0.038715\\n- macd_'
    b'signal: 0.15373\\n- mfi_14: 40.2155\\n- minus_di: 20.9289\\n- obv: 60122.13\\n- plus'
    b'_di: 12.6098\\n- roc_10: 0.024151\\n- rsi_14: 50.0261\\n- sma_20: 229.26\\n- sma_200'
    b': 226.81\\n- sma_50: 229.28\\n- stoch_d: 83.4457\\n- stoch_k: 73.3482\\n- vwap: 229.'
    b'12\\n- willr_14: -39.7183\\n\\nSignals:\\n- bollinger: inside\\n- macd: bullish\\n- mo'
    b'mentum: bullish\\n- trend: neutral\\n- trend_strength: weak\\n- volatility: normal\\'
    b'n\\nSupport: 228.87, 228.62, 228.28\\nResistance: 229.62, 230.05, 230.55\\nRecent c'
    b'loses (oldest to newest): 229.1, 229.1, 228.88, 228.45, 228.46, 227.96, 228.93, '
    b'229.2, 228.87, 229.33, 229.28, 229.1, 229.68, 229.88, 229.78, 230.09, 230, 230.3'
    b'7, 229.43, 229.39\\n\\nPosition: none open\\nAccount: {closed_trades: 0, equity: 10'
    b'0000, free_capital: 100000, open_positions: 0, realized_pnl: 0, win_rate_pct: 0}'
    b'\\nRecent events: none\\nFundamentals: fundamentals unavailable\\n\\nDecide BUY, SEL'
    b'L or HOLD for SOL/USDT now. Answer with the JSON object only."}],"models":["offl'
    b'ine/trend-follower","offline/mean-reversion"]}'
)

DICTIONARIES: tuple[bytes, ...] = (V1,)  # newest last: new values use it
