# A read-only hosted dashboard over a results database built beforehand:
#   make database                                                        # builds data/demo.duckdb
#   python -m precompute compact --db data/demo.duckdb --out data/hosted.duckdb   # 92 MB -> ~35 MB
#   docker build -t mer-workbench .                                      # copies data/hosted.duckdb
#   docker run -p 8501:8501 mer-workbench                                # http://localhost:8501
# MER_DB pins the database: the dashboard offers no other and opens it read-only.
FROM python:3.11-slim
WORKDIR /app
# chromium: Kaleido renders the PNG/SVG figure exports with it (without it those buttons are hidden).
RUN apt-get update && apt-get install -y --no-install-recommends chromium && rm -rf /var/lib/apt/lists/*
COPY requirements.txt pyproject.toml ./
# CPU wheels of torch/torchvision (the pins in requirements.txt match their +cpu builds).
RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt
COPY engine engine
COPY precompute precompute
COPY dashboard dashboard
COPY .streamlit .streamlit
RUN pip install --no-cache-dir --no-deps -e .
COPY data/hosted.duckdb data/hosted.duckdb
ENV MER_DB=/app/data/hosted.duckdb
EXPOSE 8501
CMD ["streamlit", "run", "dashboard/Home.py", "--server.address=0.0.0.0", "--server.port=8501"]
