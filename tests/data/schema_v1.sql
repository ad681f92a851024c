CREATE TABLE trades (
	id INTEGER NOT NULL, 
	timestamp DATETIME NOT NULL, 
	symbol VARCHAR NOT NULL, 
	order_type VARCHAR NOT NULL, 
	side VARCHAR NOT NULL, 
	amount FLOAT NOT NULL, 
	price FLOAT NOT NULL, 
	pnl FLOAT NOT NULL, 
	fee FLOAT NOT NULL, 
	margin FLOAT NOT NULL, 
	leverage FLOAT NOT NULL, 
	source VARCHAR NOT NULL, 
	reason TEXT NOT NULL, 
	decision_id INTEGER, 
	ts FLOAT NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_trades_symbol ON trades (symbol);
CREATE INDEX ix_trades_timestamp ON trades (timestamp);
CREATE TABLE ai_decisions (
	id INTEGER NOT NULL, 
	timestamp DATETIME NOT NULL, 
	symbol VARCHAR NOT NULL, 
	model_1_decision VARCHAR, 
	model_2_decision VARCHAR, 
	final_decision VARCHAR NOT NULL, 
	model_1_confidence FLOAT NOT NULL, 
	model_2_confidence FLOAT NOT NULL, 
	model_1_reasoning TEXT NOT NULL, 
	model_2_reasoning TEXT NOT NULL, 
	executed BOOLEAN NOT NULL, 
	input_data JSON, 
	model_1_name VARCHAR NOT NULL, 
	model_2_name VARCHAR NOT NULL, 
	model_1_error VARCHAR, 
	model_2_error VARCHAR, 
	final_confidence FLOAT NOT NULL, 
	vote_reason TEXT NOT NULL, 
	execution_note TEXT NOT NULL, 
	source VARCHAR NOT NULL, 
	price FLOAT NOT NULL, 
	tokens INTEGER NOT NULL, 
	cost FLOAT NOT NULL, 
	latency_s FLOAT NOT NULL, 
	ts FLOAT NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_ai_decisions_timestamp ON ai_decisions (timestamp);
CREATE INDEX ix_ai_decisions_symbol ON ai_decisions (symbol);
CREATE TABLE account_snapshots (
	id INTEGER NOT NULL, 
	timestamp DATETIME NOT NULL, 
	total_equity FLOAT NOT NULL, 
	total_capital FLOAT NOT NULL, 
	unrealized_pnl FLOAT NOT NULL, 
	open_positions JSON, 
	total_trades INTEGER NOT NULL, 
	winning_trades INTEGER NOT NULL, 
	losing_trades INTEGER NOT NULL, 
	win_rate FLOAT NOT NULL, 
	total_fees FLOAT NOT NULL, 
	ts FLOAT NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_account_snapshots_timestamp ON account_snapshots (timestamp);
CREATE TABLE market_events (
	id INTEGER NOT NULL, 
	timestamp DATETIME NOT NULL, 
	symbol VARCHAR NOT NULL, 
	event_type VARCHAR NOT NULL, 
	severity VARCHAR NOT NULL, 
	description TEXT NOT NULL, 
	suggested_action TEXT NOT NULL, 
	metrics JSON, 
	processed BOOLEAN NOT NULL, 
	ts FLOAT NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_market_events_event_type ON market_events (event_type);
CREATE INDEX ix_market_events_timestamp ON market_events (timestamp);
CREATE INDEX ix_market_events_symbol ON market_events (symbol);
CREATE TABLE market_data_cache (
	id INTEGER NOT NULL, 
	timestamp DATETIME NOT NULL, 
	symbol VARCHAR NOT NULL, 
	timeframe VARCHAR NOT NULL, 
	ohlcv_data JSON, 
	indicators JSON, 
	source VARCHAR NOT NULL, 
	start_ts FLOAT NOT NULL, 
	end_ts FLOAT NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_market_data_cache_timestamp ON market_data_cache (timestamp);
CREATE INDEX ix_market_data_cache_symbol ON market_data_cache (symbol);
CREATE TABLE account_state (
	id INTEGER NOT NULL, 
	initial_capital FLOAT NOT NULL, 
	capital FLOAT NOT NULL, 
	realized_pnl FLOAT NOT NULL, 
	total_fees FLOAT NOT NULL, 
	total_trades INTEGER NOT NULL, 
	winning_trades INTEGER NOT NULL, 
	losing_trades INTEGER NOT NULL, 
	liquidations INTEGER NOT NULL, 
	peak_equity FLOAT NOT NULL, 
	halted_reason VARCHAR NOT NULL, 
	paused BOOLEAN NOT NULL, 
	last_prices JSON, 
	updated_ts FLOAT NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE position_entries (
	id INTEGER NOT NULL, 
	symbol VARCHAR NOT NULL, 
	side VARCHAR NOT NULL, 
	price FLOAT NOT NULL, 
	quantity FLOAT NOT NULL, 
	margin FLOAT NOT NULL, 
	leverage FLOAT NOT NULL, 
	fee FLOAT NOT NULL, 
	ts FLOAT NOT NULL, 
	opened_at FLOAT NOT NULL, 
	seq INTEGER NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_position_entries_symbol ON position_entries (symbol);
CREATE TABLE schema_meta (
	"key" VARCHAR NOT NULL, 
	value VARCHAR NOT NULL, 
	PRIMARY KEY ("key")
);
